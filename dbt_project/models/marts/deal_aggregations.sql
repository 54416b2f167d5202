{#-
    Total deal size and number of sized deals per account and period
    (daily, weekly from Monday, monthly), periods cut in var
    `reporting_time_zone`. Incremental: only the (account, period) groups
    touched since the last build are recomputed, found by diffing the deals
    with the model int_deal_aggregations_state (the contributions of the
    last build, rewritten by the post-hooks below); see
    macros/marts/deal_aggregation_state.sql.
-#}
{%- set time_zone = var('reporting_time_zone') -%}
{%- set state = ref('int_deal_aggregations_state') -%}
{%- set use_state = false -%}
{%- if is_incremental() -%}
{%- set use_state = deal_aggregation_state_is_usable(state, time_zone) -%}
{%- endif -%}

{#-
    Spark on Parquet has neither DELETE nor a keyed merge (both need Delta,
    Iceberg or Hudi), so there the model is a table rebuilt in full, which
    Spark spreads over the cluster; with Delta, incremental_strategy='merge'
    on the same unique_key is the equivalent of delete+insert.
-#}
{%- set rebuild_in_full = target.type == 'spark' -%}
{{
    config(
        materialized='table' if rebuild_in_full else 'incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'aggregation_type', 'aggregation_date'],
        on_schema_change='fail',
        post_hook=[] if rebuild_in_full else [
            "delete from {{ this }} where deal_count = 0",
            "{{ drop_deal_aggregation_state(
                ref('int_deal_aggregations_state')) }}",
            "{{ save_deal_aggregation_state(
                ref('int_deal_aggregations_state'), ref('deals'),
                var('reporting_time_zone')) }}",
        ],
    )
}}

with

contributions as (
    {{ deal_contributions_sql(ref('deals'), time_zone) }}
),

{% if is_incremental() %}

previous_contributions as (
    {%- if use_state %}
    select
        deal_crm_id,
        account_id,
        deal_date,
        deal_size
    from {{ state }}
    {%- else %}
    -- no usable state: every group is recomputed
    select
        deal_crm_id,
        account_id,
        deal_date,
        deal_size
    from contributions
    where 1 = 0
    {%- endif %}
),

changed_deals as (
    select
        coalesce(
            current_rows.deal_crm_id, previous_rows.deal_crm_id
        ) as deal_crm_id
    from contributions as current_rows
    full outer join previous_contributions as previous_rows
        on current_rows.deal_crm_id = previous_rows.deal_crm_id
    where
        current_rows.deal_crm_id is null
        or previous_rows.deal_crm_id is null
        or current_rows.account_id <> previous_rows.account_id
        or current_rows.deal_date <> previous_rows.deal_date
        or current_rows.deal_size <> previous_rows.deal_size
),

touched_days as (
    select
        contributions.account_id,
        contributions.deal_date
    from contributions
    where
        contributions.deal_crm_id in (
            select changed_deals.deal_crm_id from changed_deals
        )
    union
    select
        previous_contributions.account_id,
        previous_contributions.deal_date
    from previous_contributions
    where
        previous_contributions.deal_crm_id in (
            select changed_deals.deal_crm_id from changed_deals
        )
),

affected_group_rows as (
    {{ expand_to_periods('touched_days', []) }}
    {%- if not use_state %}
    union all
    select
        account_id,
        aggregation_type,
        aggregation_date
    from {{ this }}
    {%- endif %}
),

affected_groups as (
    select distinct
        account_id,
        aggregation_type,
        aggregation_date
    from affected_group_rows
),

affected_contributions as (
    select
        contributions.deal_crm_id,
        contributions.account_id,
        contributions.deal_date,
        contributions.deal_size
    from contributions
    where
        contributions.account_id in (
            select affected_groups.account_id from affected_groups
        )
),

{% endif %}

periods as (
    {{ expand_to_periods(
        'affected_contributions' if is_incremental() else 'contributions',
        ['deal_size']) }}
),

{% if is_incremental() %}

periods_to_recompute as (
    select
        periods.account_id,
        periods.aggregation_type,
        periods.aggregation_date,
        periods.deal_size
    from periods
    inner join affected_groups
        on
            periods.account_id = affected_groups.account_id
            and periods.aggregation_type = affected_groups.aggregation_type
            and periods.aggregation_date = affected_groups.aggregation_date
),

{% endif %}

aggregated as (
    select
        account_id,
        aggregation_type,
        aggregation_date,
        cast(sum(deal_size) as {{ money_type() }}) as total_deal_size,
        cast(count(*) as integer) as deal_count
    from
        {{ 'periods_to_recompute' if is_incremental() else 'periods' }}
    group by account_id, aggregation_type, aggregation_date
),

{% if is_incremental() %}

-- A group left without deals: a zero row replaces the stale one through
-- delete+insert, then the post-hook deletes it.
emptied_groups as (
    select
        affected_groups.account_id,
        affected_groups.aggregation_type,
        affected_groups.aggregation_date,
        cast(0 as {{ money_type() }}) as total_deal_size,
        cast(0 as integer) as deal_count
    from affected_groups
    left join aggregated
        on
            affected_groups.account_id = aggregated.account_id
            and affected_groups.aggregation_type = aggregated.aggregation_type
            and affected_groups.aggregation_date = aggregated.aggregation_date
    where aggregated.account_id is null
),

{% endif %}

final as (
    select
        account_id,
        aggregation_type,
        aggregation_date,
        total_deal_size,
        deal_count
    from aggregated
    {%- if is_incremental() %}
    union all
    select
        account_id,
        aggregation_type,
        aggregation_date,
        total_deal_size,
        deal_count
    from emptied_groups
    {%- endif %}
)

select * from final
