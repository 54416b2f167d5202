{#-
    is_invalid(column): TRUE when the column's raw text was present but did
    not cast, or dlt kept the value in a variant column because its type
    clashed (`amount__v_text`). Expects `<column>`, `<column>_text` and
    `<column>_is_variant`.
-#}
{% macro is_invalid(column) -%}
    ({{ column }}_is_variant
        or ({{ column }}_text is not null and {{ column }} is null))
{%- endmacro %}

{#-
    named_list_staging(source_table): the staging select of a selector list
    that is only (id, name, position): territories, industry types, lead
    sources. Renames and cleans, nothing else.
-#}
{% macro named_list_staging(source_table) -%}
with

source as (
    select * from {{ source('freshsales', source_table) }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position
    from source
)

select * from renamed
{%- endmacro %}
