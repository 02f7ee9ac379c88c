# Generates the control plane's certificates with openssl. Sourced by cluster-up.sh.

# gen_cert NAME CN ORG [SAN...]: a client or serving certificate signed by the cluster CA.
gen_cert() {
  local name="$1" cn="$2" org="$3"; shift 3
  local dir="$CLUSTER_PKI_DIR" subj="/CN=$cn" ext
  [ -n "$org" ] && subj="/O=$org$subj"
  ext="$dir/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ $# -gt 0 ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      local sans="" san
      for san in "$@"; do sans+="${sans:+,}$san"; done
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl genrsa -out "$dir/$name.key" 2048 2>/dev/null
  openssl req -new -key "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$ext"
}

# write_kubeconfig FILE USER CERTNAME: a kubeconfig that authenticates with a client certificate.
write_kubeconfig() {
  local file="$1" user="$2" cert="$3"
  cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: mapreduce-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$CLUSTER_PKI_DIR/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$CLUSTER_PKI_DIR/$cert.crt")
    client-key-data: $(base64 -w0 <"$CLUSTER_PKI_DIR/$cert.key")
contexts:
- name: mapreduce-local
  context:
    cluster: mapreduce-local
    user: $user
current-context: mapreduce-local
KUBECONFIG
  chmod 600 "$file"
}

generate_pki() {
  if [ -f "$CLUSTER_PKI_DIR/.complete" ]; then return 0; fi
  log "generating certificates in $CLUSTER_PKI_DIR"
  rm -rf "$CLUSTER_PKI_DIR" && mkdir -p "$CLUSTER_PKI_DIR" && chmod 700 "$CLUSTER_PKI_DIR"
  openssl genrsa -out "$CLUSTER_PKI_DIR/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$CLUSTER_PKI_DIR/ca.key" -subj "/CN=mapreduce-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$CLUSTER_PKI_DIR/ca.crt" 2>/dev/null
  gen_cert apiserver kube-apiserver "" IP:127.0.0.1 IP:10.96.0.1 DNS:localhost DNS:kubernetes \
    DNS:kubernetes.default DNS:kubernetes.default.svc DNS:kubernetes.default.svc.cluster.local
  gen_cert admin kubernetes-admin system:masters
  gen_cert controller-manager system:kube-controller-manager ""
  gen_cert scheduler system:kube-scheduler ""
  gen_cert kwok kwok-controller system:masters
  openssl genrsa -out "$CLUSTER_PKI_DIR/sa.key" 2048 2>/dev/null
  openssl rsa -in "$CLUSTER_PKI_DIR/sa.key" -pubout -out "$CLUSTER_PKI_DIR/sa.pub" 2>/dev/null
  touch "$CLUSTER_PKI_DIR/.complete"
}
