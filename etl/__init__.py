"""Write path of Crime Gun Atlas: read a source file, validate, COPY to staging, upsert, derive."""
