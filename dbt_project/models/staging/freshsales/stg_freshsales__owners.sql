with

source as (
    select * from {{ source('freshsales', 'owners') }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.display_name') }} as display_name,
        lower({{ clean_text('source.email') }}) as email,
        source.is_active
    from source
)

select * from renamed
