namespace FiberManager.Protocol.Tests;

public class GrpcHeadersTests
{
    [Fact]
    public void HeaderNames_AreTheWireNames()
    {
        Assert.Equal("content-type", GrpcHeaders.ContentType);
        Assert.Equal("application/grpc", GrpcHeaders.ContentTypeGrpc);
        Assert.Equal("application/grpc+proto", GrpcHeaders.ContentTypeGrpcProto);
        Assert.Equal("grpc-status", GrpcHeaders.Status);
        Assert.Equal("grpc-message", GrpcHeaders.Message);
        Assert.Equal("grpc-timeout", GrpcHeaders.Timeout);
        Assert.Equal("grpc-encoding", GrpcHeaders.Encoding);
        Assert.Equal("grpc-accept-encoding", GrpcHeaders.AcceptEncoding);
        Assert.Equal("grpc-status-details-bin", GrpcHeaders.StatusDetailsBin);
        Assert.Equal("te", GrpcHeaders.TE);
        Assert.Equal("trailers", GrpcHeaders.TeTrailers);
        Assert.Equal("identity", GrpcHeaders.IdentityEncoding);
    }

    [Theory]
    [InlineData("application/grpc")]
    [InlineData("application/grpc+proto")]
    [InlineData("APPLICATION/GRPC")]
    [InlineData("Application/Grpc+Proto")]
    [InlineData("application/grpc; charset=utf-8")]
    [InlineData(" application/grpc+proto ;x=y")]
    public void IsGrpcContentType_ProtobufGrpc_True(string contentType)
    {
        Assert.True(GrpcHeaders.IsGrpcContentType(contentType));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("application/grpc+json")]
    [InlineData("application/grpc-web")]
    [InlineData("application/grpc-web+proto")]
    [InlineData("application/grpcx")]
    [InlineData("application/json")]
    [InlineData("text/plain; application/grpc")]
    public void IsGrpcContentType_Other_False(string? contentType)
    {
        Assert.False(GrpcHeaders.IsGrpcContentType(contentType));
    }

    [Fact]
    public void StatusCode_FormatThenParse_RoundTripsEveryCode()
    {
        GrpcStatusCode[] codes = Enum.GetValues<GrpcStatusCode>();
        Assert.Equal(17, codes.Length);
        foreach (GrpcStatusCode code in codes)
        {
            string text = GrpcHeaders.FormatStatusCode(code);
            Assert.Equal(((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture), text);
            Assert.True(GrpcHeaders.TryParseStatusCode(text, out GrpcStatusCode parsed));
            Assert.Equal(code, parsed);
        }
    }

    [Theory]
    [InlineData("17")]
    [InlineData("999")]
    public void TryParseStatusCode_UnknownNumber_ReadsAsUnknown(string value)
    {
        Assert.True(GrpcHeaders.TryParseStatusCode(value, out GrpcStatusCode code));
        Assert.Equal(GrpcStatusCode.Unknown, code);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("OK")]
    [InlineData("1.0")]
    [InlineData("99999999999")]
    public void TryParseStatusCode_NotADecimalNumber_False(string? value)
    {
        Assert.False(GrpcHeaders.TryParseStatusCode(value, out GrpcStatusCode code));
        Assert.Equal(GrpcStatusCode.Unknown, code);
    }
}
