{#-
    Every CRM record of the entities with its fate: kept, rejected or
    deleted (accounts, contacts, deals, leads, tasks, appointments, sales
    activities). An activity's business key is its CRM id as text, made here:
    the activities' tables do not store it (a column of 3,000,000 distinct
    texts at 1,000,000 deals, the costliest one to write).
-#}
with

accounts as (
    select * from {{ ref('int_accounts_deduplicated') }}
),

contacts as (
    select * from {{ ref('int_contacts_deduplicated') }}
),

deals as (
    select * from {{ ref('int_deals_orphans_flagged') }}
),

leads as (
    select * from {{ ref('int_leads_deduplicated') }}
),

tasks as (
    select * from {{ ref('int_tasks_orphans_flagged') }}
),

appointments as (
    select * from {{ ref('int_appointments_orphans_flagged') }}
),

sales_activities as (
    select * from {{ ref('int_sales_activities_orphans_flagged') }}
),

unioned as (
    select
        'sales_accounts' as entity,
        id as crm_id,
        business_key,
        record_status,
        rejection_reason,
        raw_values
    from accounts
    union all
    select
        'contacts' as entity,
        id as crm_id,
        business_key,
        record_status,
        rejection_reason,
        raw_values
    from contacts
    union all
    select
        'deals' as entity,
        id as crm_id,
        business_key,
        record_status,
        rejection_reason,
        raw_values
    from deals
    union all
    select
        'leads' as entity,
        id as crm_id,
        business_key,
        record_status,
        rejection_reason,
        raw_values
    from leads
    union all
    select
        'tasks' as entity,
        id as crm_id,
        cast(id as {{ dbt.type_string() }}) as business_key,
        record_status,
        rejection_reason,
        raw_values
    from tasks
    union all
    select
        'appointments' as entity,
        id as crm_id,
        cast(id as {{ dbt.type_string() }}) as business_key,
        record_status,
        rejection_reason,
        raw_values
    from appointments
    union all
    select
        'sales_activities' as entity,
        id as crm_id,
        cast(id as {{ dbt.type_string() }}) as business_key,
        record_status,
        rejection_reason,
        raw_values
    from sales_activities
),

final as (
    select
        entity,
        crm_id,
        business_key,
        record_status,
        rejection_reason,
        raw_values
    from unioned
)

select * from final
