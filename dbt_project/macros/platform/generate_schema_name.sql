{#-
    Schemas are named literally after the layer (`staging`, `intermediate`,
    `marts`) instead of dbt's default `<target schema>_<custom schema>`.
    Tests and parallel runs isolate themselves with the env var
    DBT_SCHEMA_PREFIX (`test_abc_` -> `test_abc_marts`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set prefix = env_var('DBT_SCHEMA_PREFIX', '') -%}
    {%- if custom_schema_name is none -%}
        {{ prefix ~ target.schema }}
    {%- else -%}
        {{ prefix ~ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
