"""Pure Polars transforms: LazyFrame in, LazyFrame or pl.Expr out. No Dagster, no database."""
