package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DevKeyFile is the name of the development key in its data folder.
const DevKeyFile = "dev-jwt-key.pem"

// DevKey is the development signing key: an ES256 (P-256) key kept in a
// data folder, shared by `streamer dev` (which verifies with it) and
// `streamer token` (which mints with it). Not for production.
type DevKey struct {
	key  *ecdsa.PrivateKey
	kid  string
	path string
}

// LoadOrCreateDevKey loads dir/dev-jwt-key.pem, creating dir (0700) and the
// key (a PKCS #8 "PRIVATE KEY" PEM, mode 0600) the first time. Two processes
// creating it at once end up with the same key. An unreadable or foreign key
// file is an error; it is never overwritten.
func LoadOrCreateDevKey(dir string) (*DevKey, error) {
	path := filepath.Join(dir, DevKeyFile)
	if k, err := loadDevKey(path); !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dev key: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dev key: encode: %w", err)
	}
	if err := createExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
			return loadDevKey(path)
		}
		return nil, fmt.Errorf("dev key: %w", err)
	}
	return newDevKey(key, path)
}

// createExclusive writes data to path (0600) only if path does not exist,
// never exposing a partly written file: it writes a temporary file and links
// it into place.
func createExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-jwt-key-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

func loadDevKey(path string) (*DevKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("dev key %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("dev key %s: pem block %s is not a private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dev key %s: %w", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("dev key %s: not an EC P-256 key", path)
	}
	return newDevKey(ec, path)
}

func newDevKey(key *ecdsa.PrivateKey, path string) (*DevKey, error) {
	kid, err := Thumbprint(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("dev key %s: %w", path, err)
	}
	return &DevKey{key: key, kid: kid, path: path}, nil
}

// Path is the key file.
func (k *DevKey) Path() string { return k.path }

// KeyID is the key's RFC 7638 thumbprint, put in the "kid" header of the
// tokens it mints and in its JWKS.
func (k *DevKey) KeyID() string { return k.kid }

// PublicKeyPEM is the public key as a PKIX "PUBLIC KEY" PEM, the value for
// Config.PublicKeyPEM (JWT_PUBLIC_KEY).
func (k *DevKey) PublicKeyPEM() string {
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("auth: marshal P-256 public key: %v", err)) // cannot fail for a valid P-256 key
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// JWKS is a JSON Web Key Set holding the public key (kid KeyID, alg ES256,
// use sig), to serve at a Config.JWKSURL.
func (k *DevKey) JWKS() []byte {
	j, err := publicJWK(&k.key.PublicKey, k.kid)
	if err != nil {
		panic(fmt.Sprintf("auth: jwk of P-256 public key: %v", err)) // cannot fail for a valid P-256 key
	}
	return marshalJWKS(j)
}

// Mint signs an ES256 token for spec, with kid KeyID.
func (k *DevKey) Mint(spec TokenSpec) (string, error) { return Mint(k.key, k.kid, spec) }
