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

mapped as (
    select
        deals.id,
        deals.deal_id,
        deals.deal_name,
        deals.deal_size,
        deals.probability_of_closure,
        deal_stage_map.canonical_label as deal_stage,
        deals.deal_stage_label,
        deals.account_id,
        deals.deal_stage_id,
        deals.stage_forecast_type,
        deals.deal_pipeline_id,
        deals.owner_id,
        deals.expected_close_date,
        deals.closed_date,
        deals.stage_updated_at,
        -- a deal without a currency is in the base currency
        coalesce(
            deals.currency_code,
            case
                when deals.currency_id is null
                    then deals.base_currency_code
            end
        ) as currency_code,
        deals.base_currency_code,
        case
            when deals.currency_id is null then cast(1 as decimal(38, 9))
            else deals.exchange_rate
        end as exchange_rate,
        deals.created_at,
        deals.updated_at,
        deals.is_deleted,
        deals.business_key,
        deals.deal_id_text,
        deals.deal_size_text,
        deals.account_id_text,
        deals.currency_id,
        {%- for column in cast_columns %}
        deals.has_invalid_{{ column }},
        {%- endfor %}
        deals.extracted_at
    from deals
    left join deal_stage_map
        on
            {{ normalize_label('deals.deal_stage_label') }}
            = deal_stage_map.raw_label
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
        deal_id_text,
        deal_size_text,
        deal_stage_label,
        account_id_text,
        currency_id,
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
