-- An inverted index of character bigrams of each KPI's folded search text: `q` looks up the
-- query's bigrams here instead of scanning every KPI (two-character Japanese words such as 件数
-- are common, which rules out a trigram index). Kept in step with kpis.search_text by the writes.
CREATE TABLE kpi_search_grams (
    gram TEXT NOT NULL,
    kpi_id BIGINT NOT NULL REFERENCES kpis (id),
    PRIMARY KEY (gram, kpi_id)
) WITHOUT ROWID;
CREATE INDEX kpi_search_grams_kpi ON kpi_search_grams (kpi_id);

WITH RECURSIVE positions (kpi_id, text, i) AS (
    SELECT id, search_text, 1 FROM kpis WHERE length(search_text) >= 2
    UNION ALL
    SELECT kpi_id, text, i + 1 FROM positions WHERE i + 1 < length(text)
)
INSERT OR IGNORE INTO kpi_search_grams (gram, kpi_id) SELECT substr(text, i, 2), kpi_id FROM positions;
