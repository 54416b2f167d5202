{%- set required = [
    'title', 'owner', 'target', 'target_type', 'starts_at', 'ends_at',
    'created_at', 'updated_at',
] -%}

with

appointments as (
    select * from {{ ref('stg_freshsales__appointments') }}
),

target_type_map as (
    select * from {{ ref('map_target_type') }}
),

ranked as (
    select
        appointments.*,
        {{ latest_version_rank() }} as version_rank
    from appointments
),

mapped as (
    select
        ranked.id,
        ranked.title,
        ranked.description,
        ranked.starts_at,
        ranked.ends_at,
        ranked.time_zone,
        ranked.location,
        ranked.is_all_day,
        target_type_map.canonical_label as target_type,
        ranked.target_type_label,
        ranked.target_crm_id,
        ranked.owner_id,
        ranked.creator_id,
        ranked.outcome,
        ranked.created_at,
        ranked.updated_at,
        ranked.is_deleted,
        ranked.business_key,
        ranked.raw_values
    from ranked
    left join target_type_map
        on
            {{ normalize_label('ranked.target_type_label') }}
            = target_type_map.raw_label
    where ranked.version_rank = 1
),

final as (
    select
        id,
        title,
        description,
        starts_at,
        ends_at,
        time_zone,
        location,
        is_all_day,
        target_type,
        target_crm_id,
        owner_id,
        creator_id,
        outcome,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, [], [('target_type', 'target_type_label')],
            {'owner': 'owner_id', 'target': 'target_crm_id'}
        ) }} as validation_reason
    from mapped
)

select * from final
