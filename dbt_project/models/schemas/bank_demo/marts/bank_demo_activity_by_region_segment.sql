-- Banking activity by region and customer segment, joined across all five released tables:
-- people -> regions (lookup), people -> people_accounts (the many-to-many link) -> accounts ->
-- transactions. A joint account's transactions count for each of its holders (what each holder
-- sees), so `holder_transactions` can exceed the number of transactions. Every person is counted,
-- also one holding no account; a missing region or segment is reported as '(unknown)'.

with people as (

    select
        people.person_id,
        coalesce(regions.region_name, '(unknown)') as region_name,
        coalesce(regions.country, '(unknown)')     as country,
        coalesce(people.segment, '(unknown)')      as segment,
        people.age,
        people.income
    from {{ ref('stg_bank_demo__people') }} as people
    left join {{ ref('stg_bank_demo__regions') }} as regions using (region_id)

),

holdings as (

    select
        link.person_id,
        link.account_id,
        accounts.account_type
    from {{ ref('stg_bank_demo__people_accounts') }} as link
    inner join {{ ref('stg_bank_demo__accounts') }} as accounts using (account_id)

),

holder_transactions as (

    select
        holdings.person_id,
        transactions.amount
    from holdings
    inner join {{ ref('stg_bank_demo__transactions') }} as transactions using (account_id)

),

people_by_group as (

    select
        region_name,
        country,
        segment,
        count(*)    as people,
        avg(age)    as mean_age,
        avg(income) as mean_income
    from people
    group by region_name, country, segment

),

holdings_by_group as (

    select
        people.region_name,
        people.segment,
        count(*)                                                  as holdings,
        count(distinct holdings.account_id)                       as accounts,
        count(*) filter (where holdings.account_type = 'credit')  as credit_holdings
    from holdings
    inner join people using (person_id)
    group by people.region_name, people.segment

),

transactions_by_group as (

    select
        people.region_name,
        people.segment,
        count(*)                          as holder_transactions,
        sum(holder_transactions.amount)   as total_amount,
        median(holder_transactions.amount) as median_amount
    from holder_transactions
    inner join people using (person_id)
    group by people.region_name, people.segment

)

select
    people_by_group.region_name,
    people_by_group.country,
    people_by_group.segment,
    people_by_group.people,
    round(people_by_group.mean_age, 2)                                      as mean_age,
    round(people_by_group.mean_income, 2)                                   as mean_income,
    coalesce(holdings_by_group.holdings, 0)                                 as holdings,
    coalesce(holdings_by_group.accounts, 0)                                 as accounts,
    coalesce(holdings_by_group.credit_holdings, 0)                          as credit_holdings,
    coalesce(holdings_by_group.holdings, 0) / people_by_group.people::double as holdings_per_person,
    coalesce(transactions_by_group.holder_transactions, 0)                  as holder_transactions,
    round(coalesce(transactions_by_group.total_amount, 0), 2)               as total_amount,
    round(transactions_by_group.total_amount
          / nullif(transactions_by_group.holder_transactions, 0), 2)        as mean_amount,
    round(transactions_by_group.median_amount, 2)                           as median_amount

from people_by_group
left join holdings_by_group using (region_name, segment)
left join transactions_by_group using (region_name, segment)
order by people_by_group.region_name, people_by_group.segment
