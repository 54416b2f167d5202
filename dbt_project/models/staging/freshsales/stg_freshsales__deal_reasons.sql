{{ named_list_staging('deal_reasons', optional=true) }}
