-- The public region lookup, as released.

select
    cast(region_id as bigint)    as region_id,
    cast(region_name as varchar) as region_name,
    cast(country as varchar)     as country

from {{ source('bank_demo', 'bank_demo__regions') }}
