{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

with

contacts as (
    select * from {{ ref('int_contacts_validated') }}
),

-- Only live, valid records compete for a business key.
candidates as (
    select
        id,
        {{ kept_id_for_key('contact_id') }} as kept_id
    from contacts
    where not is_deleted and validation_reason is null
),

reasoned as (
    select
        contacts.id,
        contacts.contact_id,
        contacts.first_name,
        contacts.last_name,
        contacts.email,
        contacts.job_title,
        contacts.lead_source,
        contacts.sales_account_id,
        contacts.owner_id,
        contacts.last_contact_date,
        contacts.created_at,
        contacts.updated_at,

        contacts.is_deleted,
        contacts.business_key,
        contacts.lead_source_label,
        contacts.last_contact_date_text,
        case
            when contacts.is_deleted then null
            when contacts.validation_reason is not null
                then contacts.validation_reason
            when candidates.kept_id <> contacts.id
                then
                    'duplicate_of:'
                    || cast(candidates.kept_id as {{ dbt.type_string() }})
        end as rejection_reason
    from contacts
    left join candidates
        on contacts.id = candidates.id
),

final as (
    select
        id,
        contact_id,
        first_name,
        last_name,
        email,
        job_title,
        lead_source,
        sales_account_id,
        owner_id,
        last_contact_date,
        created_at,
        updated_at,

        is_deleted,
        business_key,
        case
            when rejection_reason is not null
                then {{ raw_values_json('contacts') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final
