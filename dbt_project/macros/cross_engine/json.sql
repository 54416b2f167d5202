{#-
    json_text_field(expr, key): the text of a top-level key of a JSON value
    (a raw JSON column such as a lead's `company`), NULL when absent.
    DuckDB and Spark read JSON text, PostgreSQL the jsonb dlt writes.
-#}
{% macro json_text_field(expr, key) -%}
    {{ return(adapter.dispatch('json_text_field', 'crm_management')(expr, key)) }}
{%- endmacro %}

{% macro default__json_text_field(expr, key) -%}
    json_extract_string({{ expr }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_text_field(expr, key) -%}
    (cast({{ expr }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{% macro spark__json_text_field(expr, key) -%}
    get_json_object(cast({{ expr }} as string), '$.{{ key }}')
{%- endmacro %}
