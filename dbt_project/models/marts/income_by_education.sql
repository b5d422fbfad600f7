-- Customers and the share earning more than 50K, by education and sex.
-- Missing categories are reported as '(unknown)' so every customer is counted once.

with customers as (

    select
        coalesce(education, '(unknown)') as education,
        coalesce(sex, '(unknown)')       as sex,
        education_years,
        is_high_income
    from {{ ref('stg_adult_customers') }}

)

select
    education,
    sex,
    min(education_years)                                    as min_education_years,
    count(*)                                                as customers,
    count(*) filter (where is_high_income)                  as high_income_customers,
    count(*) filter (where is_high_income) / count(*)::double as high_income_share

from customers
group by education, sex
order by min(education_years) nulls last, education, sex
