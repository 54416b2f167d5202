with

owners as (
    select * from {{ ref('stg_freshsales__owners') }}
),

final as (
    select
        id,
        cast(display_name as {{ varchar_type() }}) as display_name,
        cast(email as {{ varchar_type() }}) as email,
        coalesce(is_active, false) as is_active,
        team_id,
        cast(team_name as {{ varchar_type() }}) as team_name
    from owners
)

select * from final
