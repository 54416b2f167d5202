{#- Tasks (raw.tasks): one row per CRM id and extraction; no Recycle Bin,
    a task the extractor no longer finds is loaded with is_deleted. -#}
with

source as (
    {{ raw_relation_or_empty(source('freshsales', 'tasks'), [
        ('id', dbt.type_bigint()),
        ('is_deleted', dbt.type_boolean()),
        ('title', dbt.type_string()),
        ('description', dbt.type_string()),
        ('status', dbt.type_bigint()),
        ('due_date', instant_type()),
        ('completed_date', instant_type()),
        ('targetable_type', dbt.type_string()),
        ('targetable_id', dbt.type_bigint()),
        ('owner_id', dbt.type_bigint()),
        ('creater_id', dbt.type_bigint()),
        ('task_type_id', dbt.type_bigint()),
        ('outcome_id', dbt.type_bigint()),
        ('created_at', instant_type()),
        ('updated_at', instant_type()),
        ('_extracted_at', instant_type()),
    ]) }}
),

task_types as (
    select * from {{ ref('base_freshsales__task_types') }}
),

outcomes as (
    select * from {{ ref('base_freshsales__sales_activity_outcomes') }}
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ clean_text('source.title') }} as title,
        {{ clean_text('source.description') }} as description,
        cast(source.status as {{ dbt.type_string() }}) as status_label,
        {{ to_utc_naive('source.due_date') }} as due_at,
        {{ to_utc_naive('source.completed_date') }} as completed_at,
        {{ clean_text('source.targetable_type') }} as target_type_label,
        source.targetable_id as target_crm_id,
        source.owner_id,
        source.creater_id as creator_id,
        source.task_type_id,
        task_types.display_name as task_type,
        source.outcome_id,
        outcomes.display_name as outcome,
        {{ to_utc_naive('source.created_at') }} as created_at,
        {{ to_utc_naive('source.updated_at') }} as updated_at,
        source._extracted_at as extracted_at
    from source
    left join task_types
        on source.task_type_id = task_types.id
    left join outcomes
        on source.outcome_id = outcomes.id
),

final as (
    select
        id,
        title,
        description,
        status_label,
        due_at,
        completed_at,
        target_type_label,
        target_crm_id,
        owner_id,
        creator_id,
        task_type_id,
        task_type,
        outcome_id,
        outcome,
        created_at,
        updated_at,
        is_deleted,
        cast(id as {{ dbt.type_string() }}) as business_key,
        extracted_at
    from renamed
)

select * from final
