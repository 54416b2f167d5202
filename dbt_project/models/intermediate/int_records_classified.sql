{#-
    Every CRM record of the three entities with its fate: kept, rejected
    or deleted.
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
