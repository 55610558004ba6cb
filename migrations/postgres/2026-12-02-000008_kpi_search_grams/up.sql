-- An inverted index of character bigrams of each KPI's folded search text: `q` looks up the
-- query's bigrams here instead of scanning every KPI (two-character Japanese words such as 件数
-- are common, which rules out pg_trgm's trigrams). Kept in step with kpis.search_text by the writes.
CREATE TABLE kpi_search_grams (
    gram TEXT NOT NULL,
    kpi_id BIGINT NOT NULL REFERENCES kpis (id),
    PRIMARY KEY (gram, kpi_id)
);
CREATE INDEX kpi_search_grams_kpi ON kpi_search_grams (kpi_id);

INSERT INTO kpi_search_grams (gram, kpi_id)
SELECT DISTINCT substr(k.search_text, i, 2), k.id
FROM kpis k, generate_series(1, length(k.search_text) - 1) AS i;
