package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/api/orchestrator"
)

// Every string of a request is checked before anything uses it: proto3
// strings must be UTF-8 and metadata values printable ASCII (gRPC's rule for
// non-binary metadata). A bad one is the caller's error, answered
// InvalidArgument with REQUEST_ENCODING_INVALID naming the field, never
// Internal.
//
// grpc-go decodes a request before any interceptor runs and answers a decode
// error with Internal. So the server's codec decodes a message whose only
// fault is a bad string with the bad bytes replaced and records the field's
// name in an unknown field (badFieldMarker); the interceptors refuse a marked
// message. A client can set the marker itself, and is then refused too.

// badFieldMarker is the unknown field the codec records a bad field's name in.
const badFieldMarker = protowire.MaxValidNumber

// requestCodec is grpc's proto codec, except for the decoding of bad strings.
type requestCodec struct{ base encoding.CodecV2 }

func newRequestCodec() requestCodec { return requestCodec{base: encoding.GetCodecV2("proto")} }

// Name implements encoding.CodecV2.
func (requestCodec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2.
func (c requestCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal implements encoding.CodecV2.
func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	b := data.Materialize()
	field := repairStrings(b, m.ProtoReflect().Descriptor(), "")
	if field == "" {
		return err
	}
	b = protowire.AppendString(protowire.AppendTag(b, badFieldMarker, protowire.BytesType), field)
	if proto.Unmarshal(b, m) != nil {
		return err
	}
	return nil
}

// repairStrings replaces, in place, every byte of b's string fields that is
// not part of a UTF-8 sequence (the length of b stays, so no length prefix
// changes) and returns the path of the first such field, e.g. "name" or
// "workspace_firewall_allowed_domains[1]"; "" when all are valid.
func repairStrings(b []byte, md protoreflect.MessageDescriptor, prefix string) (bad string) {
	index := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return bad
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return bad
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return bad
		}
		b = b[n:]
		name := prefix + string(fd.Name())
		if fd.IsList() {
			name += "[" + strconv.Itoa(index[num]) + "]"
			index[num]++
		}
		var found string
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.Valid(v) {
				replaceInvalid(v)
				found = name
			}
		case protoreflect.MessageKind:
			found = repairStrings(v, fd.Message(), name+".")
		}
		if bad == "" {
			bad = found
		}
	}
	return bad
}

func replaceInvalid(v []byte) {
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			v[i] = '?'
		}
		i += size
	}
}

// badField names the first string field of m that is not UTF-8 (or the field
// the codec marked), "" when there is none.
func badField(m proto.Message) string {
	r := m.ProtoReflect()
	for b := r.GetUnknown(); len(b) > 0; {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			break
		}
		if num == badFieldMarker && typ == protowire.BytesType {
			// A client can set the marker too: keep what it echoes short.
			v, _ := protowire.ConsumeString(b[protowire.SizeTag(num):])
			return strings.ToValidUTF8(v[:min(len(v), 200)], "?")
		}
		b = b[n:]
	}
	return invalidString(r, "")
}

func invalidString(m protoreflect.Message, prefix string) (bad string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && bad == ""; i++ {
				bad = invalidValue(fd, l.Get(i), name+"["+strconv.Itoa(i)+"]")
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if s, ok := k.Interface().(string); ok && !utf8.ValidString(s) {
					bad = name
				} else {
					bad = invalidValue(fd.MapValue(), mv, name)
				}
				return bad == ""
			})
		default:
			bad = invalidValue(fd, v, name)
		}
		return bad == ""
	})
	return bad
}

func invalidValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(v.String()) {
			return name
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return invalidString(v.Message(), name+".")
	}
	return ""
}

// badMetadata names the first key (in sorted order) with a non-binary value
// that is not printable ASCII, "" when there is none.
func badMetadata(md metadata.MD) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.HasSuffix(k, "-bin") {
			continue
		}
		for _, v := range md[k] {
			if !printableASCII(v) {
				return k
			}
		}
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func encodingError(field, rule string) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("%s %s", field, rule))
	info := &errdetails.ErrorInfo{Reason: string(errcode.RequestEncodingInvalid), Domain: orchestrator.ErrorDomain,
		Metadata: map[string]string{"field": field}}
	if withInfo, err := st.WithDetails(info); err == nil {
		st = withInfo
	}
	return st.Err()
}

const (
	notUTF8     = "is not valid UTF-8"
	notASCII    = "metadata value must be printable ASCII"
	notASCIIHdr = "header value must be printable ASCII"
)

func checkMessage(m any) error {
	if pm, ok := m.(proto.Message); ok {
		if f := badField(pm); f != "" {
			return encodingError(f, notUTF8)
		}
	}
	return nil
}

func checkIncoming(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if n := metadataBytes(md); n > MaxMetadataBytes {
		return tooLarge(n)
	}
	if k := badMetadata(md); k != "" {
		return encodingError(k, notASCII)
	}
	return nil
}

// checkUnary refuses a call whose metadata or request has a bad string.
func checkUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := checkIncoming(ctx); err != nil {
		return nil, err
	}
	if err := checkMessage(req); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// checkStream refuses a stream whose metadata or any received message has a
// bad string.
func checkStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := checkIncoming(ss.Context()); err != nil {
		return err
	}
	return h(srv, checkedServerStream{ss})
}

type checkedServerStream struct{ grpc.ServerStream }

func (s checkedServerStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return checkMessage(m)
}

// The gateway fills requests from the path, the query and JSON, and forwards
// headers as metadata; grpc-go's client refuses to marshal a bad string with
// Internal. These client interceptors on the gateway's connection answer
// those with the same coded InvalidArgument, naming the proto field or the
// HTTP header.

func checkOutgoing(ctx context.Context) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	if n := metadataBytes(md); n > MaxMetadataBytes {
		return tooLarge(n)
	}
	if k := badMetadata(md); k != "" {
		return encodingError(headerName(k), notASCIIHdr)
	}
	return nil
}

// headerName is the HTTP header the gateway turned into metadata key k.
func headerName(k string) string {
	return http.CanonicalHeaderKey(strings.TrimPrefix(k, "grpcgateway-"))
}

func checkClientUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if err := checkOutgoing(ctx); err != nil {
		return err
	}
	if err := checkMessage(req); err != nil {
		return err
	}
	return invoke(ctx, method, req, reply, cc, opts...)
}

func checkClientStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := checkOutgoing(ctx); err != nil {
		return nil, err
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return checkedClientStream{cs}, nil
}

type checkedClientStream struct{ grpc.ClientStream }

func (s checkedClientStream) SendMsg(m any) error {
	if err := checkMessage(m); err != nil {
		return err
	}
	return s.ClientStream.SendMsg(m)
}
