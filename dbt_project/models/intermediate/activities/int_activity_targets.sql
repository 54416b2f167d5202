{#-
    What a task, appointment or sales activity may point at (targetable_type
    and targetable_id): every account, contact and deal in its mart, with
    its business key. A target that is not here (never existed, deleted or
    rejected) makes the activity an `orphan`, as a deal's missing account
    does.
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
        'Account' as target_type,
        id as target_crm_id,
        account_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_bigint() }}) as deal_id
    from accounts
    where record_status = 'kept'
    union all
    select
        'Contact' as target_type,
        id as target_crm_id,
        cast(null as {{ dbt.type_bigint() }}) as account_id,
        contact_id,
        cast(null as {{ dbt.type_bigint() }}) as deal_id
    from contacts
    where record_status = 'kept'
    union all
    select
        'Deal' as target_type,
        id as target_crm_id,
        cast(null as {{ dbt.type_bigint() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        deal_id
    from deals
    where record_status = 'kept'
),

final as (
    select
        target_type,
        target_crm_id,
        account_id,
        contact_id,
        deal_id
    from unioned
)

select * from final
