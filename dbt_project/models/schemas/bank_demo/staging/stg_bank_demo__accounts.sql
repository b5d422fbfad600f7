-- Synthetic accounts.

select
    cast(account_id as varchar)   as account_id,
    cast(account_type as varchar) as account_type,
    cast(opened_year as integer)  as opened_year

from {{ source('bank_demo', 'bank_demo__accounts') }}
