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
        -- a deal without a currency is in the base currency
        coalesce(
            ranked.currency_code,
            case
                when ranked.currency_id is null
                    then ranked.base_currency_code
            end
        ) as currency_code,
        ranked.base_currency_code,
        case
            when ranked.currency_id is null then cast(1 as decimal(38, 9))
            else ranked.exchange_rate
        end as exchange_rate,
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
        {{ money_in_base_currency('deal_size', 'exchange_rate') }}
            as deal_size_base,
        currency_code,
        base_currency_code,
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
        -- then a currency without a usable rate (unknown, zero or empty)
        coalesce(
            {{ validation_reason(
                required, cast_columns, [('deal_stage', 'deal_stage_label')]
            ) }},
            case
                when not coalesce(exchange_rate > 0, false)
                    then 'no_exchange_rate'
            end
        ) as validation_reason
    from mapped
)

select * from final
