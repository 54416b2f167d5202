{%- set entity = 'deals' -%}
{%- set raw_relation = source('freshsales', 'deals') -%}
{%- set raw_columns = raw_columns_of(raw_relation) -%}
{%- set cast_columns = [
    'deal_id', 'deal_size', 'account_id', 'created_at', 'updated_at',
] -%}

{#- The selector lists any preset may join (refs unconditional, so the
    DAG does not depend on var `crm_preset`). -#}
{%- set selectors = {
    'deal_stages': ref('base_freshsales__deal_stages'),
} -%}

with

source as (
    select * from {{ raw_relation }}
),

currencies as (
    select * from {{ ref('base_freshsales__currencies') }}
),

-- one row, NULL when the tenant lists no base currency
base_currency as (
    select max(currency_code) as currency_code
    from currencies
    where is_base_currency
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ preset_text(entity, 'deal_id') }} as deal_id_text,
        {{ preset_text(entity, 'deal_name') }} as deal_name,
        {{ preset_text(entity, 'deal_size') }} as deal_size_text,
        {{ preset_text(entity, 'probability_of_closure') }}
            as probability_of_closure,
        {{ preset_text(entity, 'deal_stage') }} as deal_stage_label,
        {{ preset_text(entity, 'account_id') }} as account_id_text,
        source.deal_stage_id,
        deal_stage.forecast_type as stage_forecast_type,
        source.deal_pipeline_id,
        source.owner_id,
        source.expected_close as expected_close_date,
        source.closed_date,
        {{ raw_timestamp_or_null(raw_columns, 'stage_updated_time') }}
            as stage_updated_at,
        {{ raw_column_or_null(raw_columns, 'currency_id', dbt.type_bigint()) }}
            as currency_id,
        currency.currency_code,
        currency.exchange_rate,
        base_currency.currency_code as base_currency_code,
        {{ preset_timestamp_columns(entity, 'created_at', raw_columns) }},
        {{ preset_timestamp_columns(entity, 'updated_at', raw_columns) }},
        {%- for column in cast_columns %}
        {{ preset_variant_filled(entity, column, raw_columns) }}
            as {{ column }}_is_variant,
        {%- endfor %}
        source._extracted_at as extracted_at
    from source
    -- the stage's forecast type (Open, Won, Lost), under every preset
    left join {{ selectors['deal_stages'] }} as deal_stage
        on source.deal_stage_id = deal_stage.id
    -- the deal's currency and its rate; NULL when the list lacks it
    left join currencies as currency
        on {{ raw_column_or_null(raw_columns, 'currency_id', dbt.type_bigint())
        }} = currency.id
    cross join base_currency
    {{- preset_selector_joins(entity, selectors) }}
),

casted as (
    select
        id,
        is_deleted,
        deal_id_text,
        deal_id_is_variant,
        {{ crm_try_cast('deal_id_text', 'bigint') }} as deal_id,
        deal_name,
        deal_size_text,
        deal_size_is_variant,
        {{ crm_try_cast('deal_size_text', 'money') }} as deal_size,
        probability_of_closure,
        deal_stage_label,
        account_id_text,
        account_id_is_variant,
        {{ crm_try_cast('account_id_text', 'bigint') }} as account_id,
        deal_stage_id,
        stage_forecast_type,
        deal_pipeline_id,
        owner_id,
        expected_close_date,
        closed_date,
        stage_updated_at,
        currency_id,
        currency_code,
        exchange_rate,
        base_currency_code,
        created_at_text,
        created_at_is_variant,
        {{ preset_timestamp_cast(entity, 'created_at', raw_columns) }}
            as created_at,
        updated_at_text,
        updated_at_is_variant,
        {{ preset_timestamp_cast(entity, 'updated_at', raw_columns) }}
            as updated_at,
        extracted_at
    from renamed
),

final as (
    select
        id,
        deal_id,
        deal_name,
        deal_size,
        probability_of_closure,
        deal_stage_label,
        account_id,
        deal_stage_id,
        stage_forecast_type,
        deal_pipeline_id,
        owner_id,
        expected_close_date,
        closed_date,
        stage_updated_at,
        currency_id,
        currency_code,
        exchange_rate,
        base_currency_code,
        created_at,
        updated_at,
        is_deleted,
        deal_id_text as business_key,
        {%- for column in cast_columns %}
        {{ is_invalid(column) }} as has_invalid_{{ column }},
        {%- endfor %}
        deal_id_text,
        deal_size_text,
        account_id_text,
        extracted_at
    from casted
)

select * from final
