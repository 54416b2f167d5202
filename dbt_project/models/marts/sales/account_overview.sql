{#-
    Per account: its contacts, its deals (open, won, lost) and its last and
    next activity (on the account, one of its contacts or one of its deals).
-#}
with

accounts as (
    select * from {{ ref('accounts') }}
),

contacts as (
    select * from {{ ref('int_contacts_deduplicated') }}
),

deals as (
    select * from {{ ref('deals_enhanced') }}
),

sales_activities as (
    select * from {{ ref('sales_activities') }}
),

appointments as (
    select * from {{ ref('appointments') }}
),

tasks as (
    select * from {{ ref('tasks') }}
),

-- when each activity happened (sales activities and appointments: their
-- start; tasks: completed, or due while open) and whom it was about
activity_times as (
    select
        account_id,
        contact_id,
        deal_id,
        starts_at as activity_at
    from sales_activities
    union all
    select
        account_id,
        contact_id,
        deal_id,
        starts_at as activity_at
    from appointments
    union all
    select
        account_id,
        contact_id,
        deal_id,
        coalesce(completed_at, due_at) as activity_at
    from tasks
),

-- the account (business key) of each activity: its target, or the
-- target's account
account_activities as (
    select
        activity_times.activity_at,
        coalesce(
            activity_times.account_id,
            deals.account_id,
            contact_accounts.account_id
        ) as account_id
    from activity_times
    left join deals
        on activity_times.deal_id = deals.deal_id
    left join contacts
        on
            activity_times.contact_id = contacts.contact_id
            and contacts.record_status = 'kept'
    left join accounts as contact_accounts
        on contacts.sales_account_id = contact_accounts.id
    where activity_times.activity_at is not null
),

activity_figures as (
    select
        account_id,
        max(
            case
                when activity_at <= {{ as_of_timestamp() }} then activity_at
            end
        ) as last_activity_at,
        min(
            case
                when activity_at > {{ as_of_timestamp() }} then activity_at
            end
        ) as next_activity_at
    from account_activities
    group by account_id
),

contact_counts as (
    select
        sales_account_id,
        count(*) as contact_count
    from contacts
    where record_status = 'kept' and sales_account_id is not null
    group by sales_account_id
),

deal_figures as (
    select
        account_id,
        count(*) as deal_count,
        sum(case when stage_category = 'open' then 1 else 0 end)
            as open_deal_count,
        sum(
            case
                when stage_category = 'open' then deal_size_base
            end
        ) as open_pipeline_value,
        min(case when stage_category = 'open' then expected_close_date end)
            as next_expected_close_date,
        sum(case when {{ is_won('stage_category') }} then 1 else 0 end)
            as won_deal_count,
        sum(
            case
                when {{ is_won('stage_category') }}
                    then deal_size_base
            end
        ) as won_revenue,
        max(case when {{ is_won('stage_category') }} then close_date end)
            as last_won_date,
        sum(case when {{ is_lost('stage_category') }} then 1 else 0 end)
            as lost_deal_count
    from deals
    group by account_id
),

final as (
    select
        accounts.id,
        accounts.account_id,
        accounts.account_name,
        accounts.region,
        cast(coalesce(contact_counts.contact_count, 0) as integer)
            as contact_count,
        cast(coalesce(deal_figures.deal_count, 0) as integer) as deal_count,
        cast(coalesce(deal_figures.open_deal_count, 0) as integer)
            as open_deal_count,
        cast(
            coalesce(deal_figures.open_pipeline_value, 0)
            as {{ money_type() }}
        ) as open_pipeline_value,
        deal_figures.next_expected_close_date,
        cast(coalesce(deal_figures.won_deal_count, 0) as integer)
            as won_deal_count,
        cast(coalesce(deal_figures.won_revenue, 0) as {{ money_type() }})
            as won_revenue,
        deal_figures.last_won_date,
        cast(coalesce(deal_figures.lost_deal_count, 0) as integer)
            as lost_deal_count,
        {{ win_rate('coalesce(deal_figures.won_deal_count, 0)',
            'coalesce(deal_figures.lost_deal_count, 0)') }} as win_rate,
        activity_figures.last_activity_at,
        activity_figures.next_activity_at
    from accounts
    left join contact_counts
        on accounts.id = contact_counts.sales_account_id
    left join deal_figures
        on accounts.account_id = deal_figures.account_id
    left join activity_figures
        on accounts.account_id = activity_figures.account_id
)

select * from final
