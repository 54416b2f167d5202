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

mapped as (
    select
        appointments.id,
        appointments.title,
        appointments.description,
        appointments.starts_at,
        appointments.ends_at,
        appointments.time_zone,
        appointments.location,
        appointments.is_all_day,
        target_type_map.canonical_label as target_type,
        appointments.target_type_label,
        appointments.target_crm_id,
        appointments.owner_id,
        appointments.creator_id,
        appointments.outcome,
        appointments.created_at,
        appointments.updated_at,
        appointments.is_deleted,
        appointments.business_key
    from appointments
    left join target_type_map
        on
            {{ normalize_label('appointments.target_type_label') }}
            = target_type_map.raw_label
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
        target_type_label,
        {{ validation_reason(
            required, [], [('target_type', 'target_type_label')],
            {'owner': 'owner_id', 'target': 'target_crm_id'}
        ) }} as validation_reason
    from mapped
)

select * from final
