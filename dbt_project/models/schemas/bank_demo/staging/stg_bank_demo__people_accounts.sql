-- Who holds which account (the many-to-many link): one row per holder and account.

select
    cast(person_id as bigint)   as person_id,
    cast(account_id as varchar) as account_id,
    cast(role as varchar)       as role

from {{ source('bank_demo', 'bank_demo__people_accounts') }}
