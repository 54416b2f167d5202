{#-
    The edge below only orders the build: the two largest tables of the
    activities, written side by side by dbt's two threads, took about a
    third longer than one after the other (each already uses both cores;
    1,000,000 deals, make bench: about 2 s of a 30 s build).
-#}
-- depends_on: {{ ref('int_sales_activities_orphans_flagged') }}
{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

{#- A task whose target is not in its mart is rejected as `orphan`. -#}
with

tasks as (
    select * from {{ ref('int_tasks_validated') }}
),

targets as (
    select * from {{ ref('int_activity_targets') }}
),

reasoned as (
    select
        tasks.id,
        tasks.title,
        tasks.description,
        tasks.status,
        tasks.due_at,
        tasks.completed_at,
        tasks.target_type,
        tasks.target_crm_id,
        tasks.owner_id,
        tasks.creator_id,
        tasks.task_type,
        tasks.outcome,
        tasks.created_at,
        tasks.updated_at,
        targets.account_id,
        targets.contact_id,
        targets.deal_id,
        tasks.is_deleted,
        tasks.status_label,
        tasks.target_type_label,
        case
            when tasks.is_deleted then null
            when tasks.validation_reason is not null
                then tasks.validation_reason
            when targets.target_crm_id is null then 'orphan'
        end as rejection_reason
    from tasks
    left join targets
        on
            tasks.target_type = targets.target_type
            and tasks.target_crm_id = targets.target_crm_id
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
        account_id,
        contact_id,
        deal_id,
        is_deleted,
        case
            when rejection_reason is not null
                then {{ raw_values_json('tasks') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final
