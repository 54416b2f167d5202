{#-
    A deal whose versions are all in version 1 (one live version) has one
    visit, that version: only the other deals' versions are grouped into
    visits (at 10,000,000 deals nearly every deal has one version, and the
    grouping and the join back cost most of this model's time). The table
    int_deal_versions is read directly by each part, not through a CTE that
    DuckDB would store.
-#}
with

revisited_deals as (
    select distinct deal_crm_id
    from {{ ref('int_deal_versions') }}
    where version_number > 1
),

versions as (
    select all_versions.*
    from {{ ref('int_deal_versions') }} as all_versions
    inner join revisited_deals
        on all_versions.deal_crm_id = revisited_deals.deal_crm_id
),

visits as (
    select
        deal_crm_id,
        visit_number,
        min(effective_from) as entered_at,
        -- open while the visit's last version has no end
        case
            when count(effective_to) = count(*) then max(effective_to)
        end as left_at
    from versions
    group by deal_crm_id, visit_number
),

-- a visit's stage, pipeline and category: those of its first version
visit_stages as (
    select
        deal_crm_id,
        visit_number,
        deal_pipeline_id,
        deal_stage,
        stage_category
    from versions
    where starts_visit
),

all_visits as (
    select
        visits.deal_crm_id,
        visits.visit_number,
        visit_stages.deal_pipeline_id,
        visit_stages.deal_stage,
        visit_stages.stage_category,
        visits.entered_at,
        visits.left_at
    from visits
    inner join visit_stages
        on
            visits.deal_crm_id = visit_stages.deal_crm_id
            and visits.visit_number = visit_stages.visit_number
    union all
    select
        only_versions.deal_crm_id,
        only_versions.visit_number,
        only_versions.deal_pipeline_id,
        only_versions.deal_stage,
        only_versions.stage_category,
        only_versions.effective_from as entered_at,
        only_versions.effective_to as left_at
    from {{ ref('int_deal_versions') }} as only_versions
    left join revisited_deals
        on only_versions.deal_crm_id = revisited_deals.deal_crm_id
    where revisited_deals.deal_crm_id is null
),

final as (
    select
        all_visits.deal_crm_id,
        cast(all_visits.visit_number as integer) as visit_number,
        all_visits.deal_pipeline_id,
        cast(all_visits.deal_stage as {{ varchar_type() }}) as deal_stage,
        cast(all_visits.stage_category as {{ varchar_type() }})
            as stage_category,
        all_visits.entered_at,
        all_visits.left_at,
        all_visits.left_at is null as is_current,
        cast(
            {{ dbt.datediff(
                local_date('all_visits.entered_at'),
                'coalesce(' ~ local_date('all_visits.left_at') ~ ', '
                ~ as_of_date() ~ ')',
                'day') }} as integer
        ) as days_in_stage
    from all_visits
)

select * from final
