with

contacts as (
    select * from {{ ref('int_contacts_deduplicated') }}
),

accounts as (
    select * from {{ ref('int_accounts_deduplicated') }}
),

final as (
    select
        contacts.id,
        cast(contacts.contact_id as {{ varchar_type() }}) as contact_id,
        cast(contacts.first_name as {{ varchar_type() }}) as first_name,
        cast(contacts.last_name as {{ varchar_type() }}) as last_name,
        cast(contacts.email as {{ varchar_type() }}) as email,
        cast(contacts.job_title as {{ varchar_type() }}) as job_title,
        cast(contacts.lead_source as {{ varchar_type() }}) as lead_source,
        contacts.last_contact_date,
        contacts.created_at,
        contacts.updated_at,
        contacts.owner_id,
        -- the business key of the contact's account, when that is in the mart
        accounts.account_id
    from contacts
    left join accounts
        on
            contacts.sales_account_id = accounts.id
            and accounts.record_status = 'kept'
    where contacts.record_status = 'kept'
)

select * from final
