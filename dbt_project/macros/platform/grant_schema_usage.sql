{#
    on-run-end hook: `usage` on the marts schema for var `bi_reader_role`
    (env BI_READER_ROLE), on PostgreSQL. The models' `+grants` give the role
    `select` on each mart, but PostgreSQL also needs `usage` on the schema
    before a role can read a table in it. Renders nothing on other engines,
    without a role, or when the run built nothing in the marts schema.
#}
{% macro grant_schema_usage(schemas) -%}
    {%- set role = var('bi_reader_role', env_var('BI_READER_ROLE', '')) -%}
    {%- set marts = generate_schema_name('marts', none) | trim -%}
    {%- if target.type == 'postgres' and role and marts in schemas -%}
        grant usage on schema {{ adapter.quote(marts) }} to {{ role }}
    {%- endif -%}
{%- endmacro %}
