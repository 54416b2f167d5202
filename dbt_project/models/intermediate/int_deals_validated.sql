{%- set required = [
    'deal_id', 'deal_name', 'account_id', 'deal_stage',
    'probability_of_closure', 'created_at', 'updated_at',
] -%}
{%- set cast_columns = [
    'deal_id', 'deal_size', 'account_id', 'created_at', 'updated_at',
] -%}

with

deals as (
    select * from {{ ref('stg_freshsales__deals') }}
),

deal_stage_map as (
    select * from {{ ref('map_deal_stage') }}
),

ranked as (
    select
        deals.*,
        {{ latest_version_rank() }} as version_rank
    from deals
),

mapped as (
    select
        ranked.id,
        ranked.deal_id,
        ranked.deal_name,
        ranked.deal_size,
        ranked.probability_of_closure,
        deal_stage_map.canonical_label as deal_stage,
        ranked.deal_stage_label,
        ranked.account_id,
        ranked.deal_stage_id,
        ranked.stage_forecast_type,
        ranked.deal_pipeline_id,
        ranked.owner_id,
        ranked.expected_close_date,
        ranked.closed_date,
        ranked.stage_updated_at,
        ranked.created_at,
        ranked.updated_at,
        ranked.is_deleted,
        ranked.business_key,
        ranked.raw_values,
        {%- for column in cast_columns %}
        ranked.has_invalid_{{ column }},
        {%- endfor %}
        ranked.extracted_at
    from ranked
    left join deal_stage_map
        on
            {{ normalize_label('ranked.deal_stage_label') }}
            = deal_stage_map.raw_label
    where ranked.version_rank = 1
),

final as (
    select
        id,
        deal_id,
        deal_name,
        deal_size,
        probability_of_closure,
        deal_stage,
        account_id,
        deal_stage_id,
        stage_forecast_type,
        deal_pipeline_id,
        owner_id,
        expected_close_date,
        closed_date,
        stage_updated_at,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, cast_columns, [('deal_stage', 'deal_stage_label')]
        ) }} as validation_reason
    from mapped
)

select * from final
