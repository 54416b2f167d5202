{#-
    Materialization `declared_table`: a table whose rows another model
    writes. Running the model only makes sure the table exists (created
    empty, with the model's columns, when it is absent), so the table is a
    node of the DAG and the docs and its data tests run; rows already there
    are never changed, also not under --full-refresh. Used by
    int_deal_aggregations_state, which deal_aggregations rewrites in a
    post-hook in the same transaction as its delete+insert.
-#}
{% materialization declared_table, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(
        database=this.database, schema=this.schema,
        identifier=this.identifier) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('main') -%}
        {%- if existing is none -%}
            {{ get_create_table_as_sql(False, target_relation,
                'select * from (' ~ sql ~ ') as declared where 1 = 0') }}
        {%- else -%}
            select 1 as declared_table_exists
        {%- endif -%}
    {%- endcall %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
