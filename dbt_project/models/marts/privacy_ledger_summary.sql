-- Per governed dataset, what the privacy ledger says: how often a synthesizer was
-- trained (charged), refused (over budget) or reused (no spend), how often the release
-- gate's noisy figures were measured (charged), how often its output was released or
-- blocked, the last release decision, and the spend so far: epsilon at the budget's delta,
-- composed in zCDP over the dataset's source ('unbounded' once any non-private fit happened).
-- Reads the published zone's reduced ledger: no hash and no figure computed on real rows.

with ledger as (

    select * from {{ source('governance', 'ledger') }}

),

latest_entry as (

    select dataset, cumulative_epsilon, epsilon_budget, cumulative_rho, budget_delta
    from ledger
    qualify row_number() over (partition by dataset order by entry_id desc) = 1

),

latest_decision as (

    select dataset, event as last_decision_event, decision as last_decision, recorded_at as last_decision_at
    from ledger
    where event in ('released', 'blocked')
    qualify row_number() over (partition by dataset order by entry_id desc) = 1

),

counts as (

    select
        dataset,
        count(*) filter (where event = 'trained')   as trainings,
        count(*) filter (where event = 'released')  as releases,
        count(*) filter (where event = 'blocked')   as blocks,
        count(*) filter (where event = 'refused')   as refusals,
        count(*) filter (where event = 'reused')    as reuses,
        count(*) filter (where event = 'gate')      as gate_measurements,
        max(recorded_at) filter (where event = 'released') as last_released_at,
        max(recorded_at)                             as last_recorded_at,
        max(entry_id)                                as last_entry_id
    from ledger
    group by dataset

)

select
    counts.dataset,
    counts.trainings,
    counts.releases,
    counts.blocks,
    counts.refusals,
    counts.reuses,
    counts.gate_measurements,
    latest_decision.last_decision_event,
    latest_decision.last_decision,
    latest_decision.last_decision_at,
    counts.last_released_at,
    case
        when latest_entry.cumulative_epsilon is null then null
        when isinf(latest_entry.cumulative_epsilon) then 'unbounded'
        else cast(round(latest_entry.cumulative_epsilon, 6) as varchar)
    end                                              as cumulative_epsilon,
    latest_entry.epsilon_budget,
    latest_entry.budget_delta,
    latest_entry.cumulative_rho,
    counts.last_recorded_at,
    counts.last_entry_id

from counts
inner join latest_entry using (dataset)
left join latest_decision using (dataset)
order by counts.dataset
