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
