{%- set entity = 'accounts' -%}
{%- set raw_relation = source('freshsales', 'sales_accounts') -%}
{%- set raw_columns = raw_columns_of(raw_relation) -%}
{%- set cast_columns = [
    'account_id', 'account_value', 'created_at', 'updated_at',
] -%}

{#- The selector lists any preset may join (refs unconditional, so the
    DAG does not depend on var `crm_preset`). -#}
{%- set selectors = {
    'territories': ref('base_freshsales__territories'),
    'industry_types': ref('base_freshsales__industry_types'),
} -%}

with

source as (
    select * from {{ raw_relation }}
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ preset_text(entity, 'account_id') }} as account_id_text,
        {{ preset_text(entity, 'account_name') }} as account_name,
        {{ preset_text(entity, 'industry') }} as industry,
        {{ preset_text(entity, 'account_value') }} as account_value_text,
        {{ preset_text(entity, 'region') }} as region_label,
        {{ preset_timestamp_columns(entity, 'created_at', raw_columns) }},
        {{ preset_timestamp_columns(entity, 'updated_at', raw_columns) }},
        {%- for column in cast_columns %}
        {{ preset_variant_filled(entity, column, raw_columns) }}
            as {{ column }}_is_variant,
        {%- endfor %}
        source._extracted_at as extracted_at
    from source
    {{- preset_selector_joins(entity, selectors) }}
),

casted as (
    select
        id,
        is_deleted,
        account_id_text,
        account_id_is_variant,
        {{ crm_try_cast('account_id_text', 'bigint') }} as account_id,
        account_name,
        industry,
        account_value_text,
        account_value_is_variant,
        {{ crm_try_cast('account_value_text', 'money') }} as account_value,
        region_label,
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
        account_id,
        account_name,
        industry,
        account_value,
        region_label,
        created_at,
        updated_at,
        is_deleted,
        account_id_text as business_key,
        {%- for column in cast_columns %}
        {{ is_invalid(column) }} as has_invalid_{{ column }},
        {%- endfor %}
        account_id_text,
        account_value_text,
        extracted_at
    from casted
)

select * from final
