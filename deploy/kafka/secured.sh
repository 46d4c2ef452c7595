# Sourced by deploy/stack.sh: the single broker's secured listeners, its SCRAM users and
# their ACLs. Uses stack.sh's KAFKA_DIR, VENV, log, die and claim_port.

# Beside PLAINTEXT, the single broker takes SASL_SSL with SCRAM-SHA-512 users on
# ASCOLTO_KAFKA_SASL_SSL_PORT and TLS with a client certificate on ASCOLTO_KAFKA_SSL_PORT
# (docs/deploying.md#secured-connections). Made once per .run/: a CA, the broker's certificate
# and a client certificate in .run/kafka/tls/, a random password per user in
# .run/secrets/kafka-<user>.password (mode 600); the users are added when the data is formatted.
KAFKA_TLS="$KAFKA_DIR/tls"
SECRETS="$ASCOLTO_RUN_DIR/secrets"
# ascolto: the admin, a super user; the others have the ACLs of ascolto/acls.py.
KAFKA_SCRAM_USERS=(ascolto ascolto-ingest ascolto-worker ascolto-indexer ascolto-cli ascolto-nudger)
KAFKA_SCRAM_FORMAT_ARGS=()

kafka_cert() { # kafka_cert NAME SUBJECT EXTENSIONS: a key, and its certificate signed by the CA
  openssl req -new -newkey rsa:2048 -noenc -keyout "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
    -extfile <(printf '%b\n' "$3") -out "$1.crt" 2>/dev/null
  rm -f "$1.csr"
}

kafka_tls() {
  [ -s "$KAFKA_TLS/broker.pem" ] && [ -s "$KAFKA_TLS/client.crt" ] && return 0
  command -v openssl >/dev/null || die "openssl not found: run \`deploy/stack.sh prereqs\` as root"
  local names="IP:127.0.0.1,DNS:localhost" ip='^[0-9.]+$|:'
  if [[ "$ASCOLTO_HOST" =~ $ip ]]; then names+=",IP:$ASCOLTO_HOST"; else names+=",DNS:$ASCOLTO_HOST"; fi
  log "making Kafka's TLS certificates in $KAFKA_TLS"
  mkdir -p "$KAFKA_TLS" && chmod 700 "$KAFKA_TLS"
  (
    cd "$KAFKA_TLS" && umask 077
    openssl req -x509 -new -newkey rsa:2048 -noenc -keyout ca.key -days 3650 \
      -subj "/CN=Ascolto local CA" -out ca.crt 2>/dev/null
    kafka_cert broker "/CN=$ASCOLTO_HOST" \
      "subjectAltName=$names\nextendedKeyUsage=serverAuth"
    kafka_cert client "/CN=ascolto-client" "extendedKeyUsage=clientAuth"
    cat broker.key broker.crt ca.crt >broker.pem
  )
}

kafka_password() { cat "$SECRETS/kafka-$1.password"; } # kafka_password USER

kafka_passwords() { # a password file per user, made once; the format tool's arguments
  mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
  local user
  KAFKA_SCRAM_FORMAT_ARGS=()
  for user in "${KAFKA_SCRAM_USERS[@]}"; do
    [ -s "$SECRETS/kafka-$user.password" ] \
      || (umask 077 && openssl rand -hex 24 >"$SECRETS/kafka-$user.password")
    KAFKA_SCRAM_FORMAT_ARGS+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(kafka_password "$user")]")
  done
}

# kafka_secured_setup CONFIG: certificates, passwords, the listeners' ports in CONFIG
kafka_secured_setup() {
  kafka_tls
  kafka_passwords
  sed -i -e "s|@SASL_SSL_PORT@|$ASCOLTO_KAFKA_SASL_SSL_PORT|g" \
    -e "s|@SSL_PORT@|$ASCOLTO_KAFKA_SSL_PORT|g" -e "s|@TLS@|$KAFKA_TLS|g" "$1"
  claim_port kafka "$ASCOLTO_KAFKA_SASL_SSL_PORT" ASCOLTO_KAFKA_SASL_SSL_PORT
  claim_port kafka "$ASCOLTO_KAFKA_SSL_PORT" ASCOLTO_KAFKA_SSL_PORT
}

kafka_scram_users_made() { echo "${KAFKA_SCRAM_USERS[*]}" >"$KAFKA_DIR/scram-users"; }

# Data formatted before the secured listeners (or before a user was added): add the users
# through the running broker.
kafka_scram_users_after_start() {
  [ "$(cat "$KAFKA_DIR/scram-users" 2>/dev/null)" = "${KAFKA_SCRAM_USERS[*]}" ] && return 0
  local user
  for user in "${KAFKA_SCRAM_USERS[@]}"; do
    log "adding Kafka SCRAM user $user"
    "$JAVA_HOME/bin/java" -Xmx128m -cp "$KAFKA_DIR/libs/*" \
      -Dlog4j.configuration="file:$ASCOLTO_ROOT/deploy/kafka/log4j.properties" \
      kafka.admin.ConfigCommand --bootstrap-server "$ASCOLTO_HOST:$ASCOLTO_KAFKA_PORT" --alter \
      --add-config "SCRAM-SHA-512=[password=$(kafka_password "$user")]" \
      --entity-type users --entity-name "$user" >/dev/null
  done
  kafka_scram_users_made
}

# Every principal's ACLs (ascolto/acls.py, for these settings), over PLAINTEXT as its super
# user. A broker started before it had an authorizer refuses them until it is restarted.
kafka_acls() {
  "$VENV/bin/ascolto" acls --apply >/dev/null \
    || log "Kafka ACLs not applied (above); a broker started without an authorizer needs \`deploy/stack.sh restart kafka\`"
}
