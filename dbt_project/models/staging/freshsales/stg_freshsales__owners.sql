{%- set raw_relation = source('freshsales', 'owners') -%}
{%- set raw_columns = raw_columns_of(raw_relation) -%}

with

source as (
    select * from {{ raw_relation }}
),

teams as (
    select * from {{ ref('base_freshsales__teams') }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.display_name') }} as display_name,
        lower({{ clean_text('source.email') }}) as email,
        source.is_active,
        {{ raw_column_or_null(raw_columns, 'team_id', dbt.type_bigint()) }}
            as team_id,
        teams.display_name as team_name
    from source
    left join teams
        on {{ raw_column_or_null(raw_columns, 'team_id', dbt.type_bigint())
        }} = teams.id
)

select * from renamed
