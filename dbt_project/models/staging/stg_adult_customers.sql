-- The released synthetic customers, shaped for analysts: direct identifiers other than
-- the (synthetic) customer key are not carried (full_name, email, phone, ssn and
-- street_address stay in the release table), and quasi-identifiers are coarsened
-- (ZIP -> ZIP3, date of birth -> birth year).

with source as (

    select * from {{ source('release', 'adult_customers') }}

)

select
    cast(customer_id as varchar)                as customer_id,
    cast(left(cast(zip_code as varchar), 3) as varchar) as zip3,
    cast(year(cast(date_of_birth as date)) as integer)  as birth_year,
    cast(age as integer)                        as age,
    cast(workclass as varchar)                  as workclass,
    cast(fnlwgt as bigint)                      as sampling_weight,
    cast(education as varchar)                  as education,
    cast(education_num as integer)              as education_years,
    cast(marital_status as varchar)             as marital_status,
    cast(occupation as varchar)                 as occupation,
    cast(relationship as varchar)               as relationship,
    cast(race as varchar)                       as race,
    cast(sex as varchar)                        as sex,
    cast(capital_gain as bigint)                as capital_gain,
    cast(capital_loss as bigint)                as capital_loss,
    cast(hours_per_week as integer)             as hours_per_week,
    cast(native_country as varchar)             as native_country,
    cast(income as varchar)                     as income,
    cast(income = '>50K' as boolean)            as is_high_income

from source
