{%- set required = [
    'title', 'owner', 'target', 'target_type', 'status', 'created_at',
    'updated_at',
] -%}

with

tasks as (
    select * from {{ ref('stg_freshsales__tasks') }}
),

status_map as (
    select * from {{ ref('map_task_status') }}
),

target_type_map as (
    select * from {{ ref('map_target_type') }}
),

ranked as (
    select
        tasks.*,
        {{ latest_version_rank() }} as version_rank
    from tasks
),

mapped as (
    select
        ranked.id,
        ranked.title,
        ranked.description,
        status_map.canonical_label as status,
        ranked.status_label,
        ranked.due_at,
        ranked.completed_at,
        target_type_map.canonical_label as target_type,
        ranked.target_type_label,
        ranked.target_crm_id,
        ranked.owner_id,
        ranked.creator_id,
        ranked.task_type,
        ranked.outcome,
        ranked.created_at,
        ranked.updated_at,
        ranked.is_deleted,
        ranked.business_key,
        ranked.raw_values
    from ranked
    left join status_map
        on {{ normalize_label('ranked.status_label') }} = status_map.raw_label
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
        status,
        due_at,
        completed_at,
        target_type,
        target_crm_id,
        owner_id,
        creator_id,
        task_type,
        outcome,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, [],
            [('target_type', 'target_type_label'), ('status', 'status_label')],
            {'owner': 'owner_id', 'target': 'target_crm_id'}
        ) }} as validation_reason
    from mapped
)

select * from final
