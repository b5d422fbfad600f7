-- Synthetic people, shaped for analysts: the direct identifier (full_name, a refilled fake) is not
-- carried; the person key keeps its source name.

select
    cast(person_id as bigint)    as person_id,
    cast(region_id as bigint)    as region_id,
    cast(age as integer)         as age,
    cast(segment as varchar)     as segment,
    cast(income as double)       as income

from {{ source('bank_demo', 'bank_demo__people') }}
