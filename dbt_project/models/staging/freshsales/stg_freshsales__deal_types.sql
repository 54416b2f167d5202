{{ named_list_staging('deal_types', optional=true) }}
