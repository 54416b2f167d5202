{#- Per account: its contacts and its deals (open, won, lost). -#}
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
                when stage_category = 'open' then deal_size_base_currency
            end
        ) as open_pipeline_value,
        min(case when stage_category = 'open' then expected_close_date end)
            as next_expected_close_date,
        sum(case when {{ is_won('stage_category') }} then 1 else 0 end)
            as won_deal_count,
        sum(
            case
                when {{ is_won('stage_category') }}
                    then deal_size_base_currency
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
            'coalesce(deal_figures.lost_deal_count, 0)') }} as win_rate
    from accounts
    left join contact_counts
        on accounts.id = contact_counts.sales_account_id
    left join deal_figures
        on accounts.account_id = deal_figures.account_id
)

select * from final
