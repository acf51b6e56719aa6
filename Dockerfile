# Worker image for docker-compose.yml: the same package and commands that `make setup` installs.
FROM python:3.11-slim
WORKDIR /app
# The loudspeaker service renders speech with espeak-ng (Mandarin and English voices), as `make setup` installs it.
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY topics ./topics
COPY sites ./sites
# Editable install: the topic contract in /app/topics is read at run time.
RUN pip install --no-cache-dir -e .
ENTRYPOINT ["sca"]
CMD ["worker"]
