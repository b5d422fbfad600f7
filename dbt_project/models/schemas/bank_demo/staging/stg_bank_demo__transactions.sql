-- Synthetic transactions, one row each.

select
    cast(txn_id as bigint)      as txn_id,
    cast(account_id as varchar) as account_id,
    cast(amount as double)      as amount,
    cast(category as varchar)   as category,
    cast(channel as varchar)    as channel

from {{ source('bank_demo', 'bank_demo__transactions') }}
