DROP TABLE kpi_search_grams;
