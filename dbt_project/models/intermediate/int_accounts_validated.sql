{%- set required = [
    'account_id', 'account_name', 'industry', 'account_value', 'region',
    'created_at', 'updated_at',
] -%}
{%- set cast_columns = [
    'account_id', 'account_value', 'created_at', 'updated_at',
] -%}

with

accounts as (
    select * from {{ ref('stg_freshsales__accounts') }}
),

region_map as (
    select * from {{ ref('map_region') }}
),

mapped as (
    select
        accounts.id,
        accounts.account_id,
        accounts.account_name,
        accounts.industry,
        accounts.account_value,
        region_map.canonical_label as region,
        accounts.region_label,
        accounts.created_at,
        accounts.updated_at,
        accounts.is_deleted,
        accounts.business_key,
        accounts.account_id_text,
        accounts.account_value_text,
        {%- for column in cast_columns %}
        accounts.has_invalid_{{ column }},
        {%- endfor %}
        accounts.extracted_at
    from accounts
    left join region_map
        on {{ normalize_label('accounts.region_label') }} = region_map.raw_label
),

final as (
    select
        id,
        account_id,
        account_name,
        industry,
        account_value,
        region,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        account_id_text,
        account_value_text,
        region_label,
        {{ validation_reason(
            required, cast_columns, [('region', 'region_label')]
        ) }} as validation_reason
    from mapped
)

select * from final
