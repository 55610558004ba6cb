DROP TABLE evaluation_items;
DROP TABLE evaluations;
