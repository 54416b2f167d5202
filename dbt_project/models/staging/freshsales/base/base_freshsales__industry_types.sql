{{ named_list_staging('industry_types') }}
