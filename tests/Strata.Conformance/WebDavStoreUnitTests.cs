using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Strata.Stores;

namespace Strata.Conformance;

/// <summary>
/// WebDAV locations, and the store against canned HTTP answers for what apache does not do: ignoring Range, absolute
/// hrefs, server errors, timeouts and redirects. A fake, and only for that; the contract runs against apache in
/// <see cref="WebDavStoreConformanceTests"/>.
/// </summary>
public sealed class WebDavStoreUnitTests
{
    private static readonly ObjectName Index = new(ObjectKind.Index, "0123abcdef");
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    private static Func<string, string?> Env(Dictionary<string, string?> vars) => name => vars.GetValueOrDefault(name);

    // ---------------------------------------------------------------- locations

    [Fact]
    public void Location_TakesUserAndPasswordFromTheUrl_AndNeverShowsThePassword()
    {
        WebDavLocation l = WebDavLocation.Parse("webdav:https://alice:s%40cret%2F1@nas.local:5006/backups/my%20repo", Env(NoEnvironment));
        Assert.Equal("https://nas.local:5006/backups/my%20repo/", l.BaseUri.AbsoluteUri);
        Assert.Equal("alice", l.User);
        Assert.Equal("s@cret/1", l.Password);
        Assert.Equal("webdav:https://alice@nas.local:5006/backups/my%20repo/", l.Display);
        Assert.Equal(l.Display, l.ToString());
        Assert.DoesNotContain("cret", l.Display, StringComparison.Ordinal);
    }

    [Fact]
    public void Location_TakesCredentialsFromTheEnvironment_TheUrlWins()
    {
        var env = new Dictionary<string, string?> { ["STRATA_WEBDAV_USER"] = "bob", ["STRATA_WEBDAV_PASSWORD"] = "env-pw" };
        WebDavLocation fromEnv = WebDavLocation.Parse("webdav:http://nas/dav", Env(env));
        Assert.Equal(("bob", "env-pw"), (fromEnv.User, fromEnv.Password));
        Assert.Equal("http://nas/dav/", fromEnv.BaseUri.AbsoluteUri);

        WebDavLocation userInUrl = WebDavLocation.Parse("webdav:http://carol@nas/dav/", Env(env));
        Assert.Equal(("carol", "env-pw"), (userInUrl.User, userInUrl.Password));

        WebDavLocation both = WebDavLocation.Parse("webdav:http://dave:url-pw@nas/", Env(env));
        Assert.Equal(("dave", "url-pw"), (both.User, both.Password));

        WebDavLocation none = WebDavLocation.Parse("webdav:http://nas:8080", Env(NoEnvironment));
        Assert.Equal((null, null), (none.User, none.Password));
        Assert.Equal("webdav:http://nas:8080/", none.Display);
    }

    [Theory]
    [InlineData("webdav:", "the URL is missing")]
    [InlineData("webdav:ftp://nas/dav", "a WebDAV server is reached with http:// or https://, not ftp://")]
    [InlineData("webdav:nas.local/dav", "'nas.local/dav' is not a URL")]
    [InlineData("webdav:https://:hunter2@nas/dav", "the URL has a password but no user name")]
    [InlineData("webdav:https://u:hunter2@nas/dav?x=1", "the URL must not have a query (?...) or fragment (#...)")]
    [InlineData("webdav:https//u:hunter2@nas/dav", "'https//u:***@nas/dav' is not a URL")]
    public void Location_RefusesBadUrls_SayingWhatIsWrongAndWhatIsExpected(string location, string problem)
    {
        var e = Assert.Throws<ArgumentException>(() => WebDavLocation.Parse(location, Env(NoEnvironment)));
        Assert.StartsWith(problem, e.Message, StringComparison.Ordinal);
        Assert.EndsWith("expected webdav:https://host/path or webdav:https://user:password@host/path", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Location_RefusesAPasswordWithoutAUser()
    {
        var env = new Dictionary<string, string?> { ["STRATA_WEBDAV_PASSWORD"] = "hunter2" };
        var e = Assert.Throws<ArgumentException>(() => WebDavLocation.Parse("webdav:https://nas/dav", Env(env)));
        Assert.Equal("STRATA_WEBDAV_PASSWORD is set but no user is given: put it in the URL (webdav:https://user@host/path) or in STRATA_WEBDAV_USER", e.Message);
    }

    // ---------------------------------------------------------------- canned answers

    private readonly List<HttpRequestMessage> _requests = [];

    private WebDavStore Open(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer, string url = "webdav:http://u:SECRET-PW@nas.test/repo", TimeSpan? transferTimeout = null, TimeSpan? requestTimeout = null) =>
        new(WebDavLocation.Parse(url, Env(NoEnvironment)), new Canned((request, ct) =>
        {
            lock (_requests)
            {
                _requests.Add(request);
            }
            return answer(request, ct);
        }), transferTimeout, requestTimeout);

    private WebDavStore Open(Func<HttpRequestMessage, HttpResponseMessage> answer, string url = "webdav:http://u:SECRET-PW@nas.test/repo") =>
        Open((r, _) => Task.FromResult(answer(r)), url);

    private static HttpResponseMessage Status(HttpStatusCode code) => new(code) { Content = new ByteArrayContent([]) };

    [Fact]
    public async Task AServerThatIgnoresRange_StillGivesTheRightBytes()
    {
        byte[] content = new byte[100_000];
        new Random(3).NextBytes(content);
        await using WebDavStore store = Open(r => r.Method == HttpMethod.Get
            ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(content) }
            : Status(HttpStatusCode.NotFound));
        foreach ((int offset, int length) in new[] { (0, 1), (0, 100_000), (1, 99_999), (99_999, 1), (70_000, 12_345), (65_536, 30_000) })
        {
            byte[] got = new byte[length];
            await store.ReadAsync(Index, offset, got, default);
            Assert.True(content.AsSpan(offset, length).SequenceEqual(got), $"bytes {offset}+{length} differ");
        }
        Assert.All(_requests, r => Assert.NotNull(r.Headers.Range));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(Index, 99_990, new byte[20], default));
        Assert.Equal("index/0123abcdef in webdav:http://u@nas.test/repo/ is shorter than expected: wanted bytes 99990..100010, it ends at 100000", e.Message);
        e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(Index, 200_000, new byte[20], default));
        Assert.Contains("it ends at 100000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APartialAnswerThatStartsEarly_IsSkippedToTheOffset()
    {
        byte[] content = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        await using WebDavStore store = Open(r =>
        {
            var answer = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = new ByteArrayContent(content[100..]) };
            answer.Content.Headers.ContentRange = new ContentRangeHeaderValue(100, 999, 1000);
            return answer;
        });
        byte[] got = new byte[50];
        await store.ReadAsync(Index, 300, got, default);
        Assert.Equal(content[300..350], got);
    }

    [Fact]
    public async Task Listings_WithAbsoluteHrefsAndEscapedPaths_AreUnderstood()
    {
        const string multistatus = """
            <?xml version="1.0" encoding="utf-8"?>
            <d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
              <d:response><d:href>https://nas.test/my%20dav/repo/index/</d:href>
                <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:getlastmodified>Mon, 02 Nov 2026 10:00:00 GMT</d:getlastmodified></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
                <d:propstat><d:prop><d:getcontentlength/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>
              <d:response><d:href>https://nas.test/my%20dav/repo/index/00aa</d:href>
                <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>12</d:getcontentlength><d:getlastmodified>Mon, 02 Nov 2026 10:00:00 GMT</d:getlastmodified></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
              <d:response><d:href>/my%20dav/repo/index/ff01</d:href>
                <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>7</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
              <d:response><d:href>/my%20dav/repo/index/sub/</d:href>
                <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
              <d:response><d:href>/my%20dav/repo/index/README.txt</d:href>
                <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>5</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            </d:multistatus>
            """;
        await using WebDavStore store = Open(r =>
        {
            Assert.Equal("PROPFIND", r.Method.Method);
            Assert.Equal("1", r.Headers.GetValues("Depth").Single());
            Assert.Equal("https://nas.test/my%20dav/repo/index/", r.RequestUri!.AbsoluteUri);
            return new HttpResponseMessage(HttpStatusCode.MultiStatus) { Content = new StringContent(multistatus, Encoding.UTF8, "application/xml") };
        }, "webdav:https://u:SECRET-PW@nas.test/my%20dav/repo");
        var listed = new List<ObjectInfo>();
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Index, default))
        {
            listed.Add(o);
        }
        Assert.Equal(new[] { ("00aa", 12L), ("ff01", 7L) }, listed.Select(o => (o.Name.Name, o.Length)).OrderBy(x => x.Item1));
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero), listed.Single(o => o.Name.Name == "00aa").LastModified);
    }

    [Fact]
    public async Task AnAnswerThatIsNotAMultistatus_IsAPermanentError()
    {
        await using WebDavStore store = Open(_ => new HttpResponseMessage(HttpStatusCode.MultiStatus) { Content = new StringContent("<html>login page</html>") });
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(Index, default));
        Assert.Equal("stat index/0123abcdef at webdav:http://u@nas.test/repo/: the answer is <html>, not a WebDAV <multistatus>", e.Message);
    }

    [Fact]
    public async Task ServerErrorsAndTimeouts_AreTransient_LoginsAndRedirectsPermanent()
    {
        await using (WebDavStore busy = Open(_ => Status(HttpStatusCode.ServiceUnavailable)))
        {
            var e = await Assert.ThrowsAsync<TransientStoreException>(() => busy.ReadAsync(Index, 0, new byte[1], default));
            Assert.Equal("read index/0123abcdef at webdav:http://u@nas.test/repo/: HTTP 503 Service Unavailable", e.Message);
            await Assert.ThrowsAsync<TransientStoreException>(() => busy.StatAsync(Index, default));
            await Assert.ThrowsAsync<TransientStoreException>(() => busy.DeleteAsync(Index, default));
        }
        await using (WebDavStore silent = Open(async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return Status(HttpStatusCode.OK); },
            transferTimeout: TimeSpan.FromMilliseconds(300), requestTimeout: TimeSpan.FromMilliseconds(200)))
        {
            var e = await Assert.ThrowsAsync<TransientStoreException>(() => silent.StatAsync(Index, default));
            Assert.Equal("stat index/0123abcdef at webdav:http://u@nas.test/repo/: no answer within 0.2 s", e.Message);
            e = await Assert.ThrowsAsync<TransientStoreException>(() => silent.ReadAsync(Index, 0, new byte[1], default));
            Assert.Equal("read index/0123abcdef at webdav:http://u@nas.test/repo/: no answer within 0.3 s", e.Message);
            using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => silent.StatAsync(Index, cancelled.Token));
        }
        await using (WebDavStore refused = Open(_ => Status(HttpStatusCode.Unauthorized)))
        {
            var e = await Assert.ThrowsAsync<PermanentStoreException>(() => refused.StatAsync(Index, default));
            Assert.Equal("stat index/0123abcdef at webdav:http://u@nas.test/repo/: the server refused the login of u (HTTP 401): check the user and password (in the URL or STRATA_WEBDAV_USER / STRATA_WEBDAV_PASSWORD)", e.Message);
        }
        await using (WebDavStore anonymous = Open(_ => Status(HttpStatusCode.Unauthorized), "webdav:http://nas.test/repo"))
        {
            var e = await Assert.ThrowsAsync<PermanentStoreException>(() => anonymous.DeleteAsync(Index, default));
            Assert.Equal("delete index/0123abcdef at webdav:http://nas.test/repo/: the server wants a login (HTTP 401): put the user in the URL (webdav:https://user@host/path) or in STRATA_WEBDAV_USER, and the password in STRATA_WEBDAV_PASSWORD", e.Message);
        }
        await using (WebDavStore moved = Open(_ =>
        {
            var r = Status(HttpStatusCode.MovedPermanently);
            r.Headers.Location = new Uri("https://nas.test/repo/index/0123abcdef");
            return r;
        }))
        {
            var e = await Assert.ThrowsAsync<PermanentStoreException>(() => moved.ReadAsync(Index, 0, new byte[1], default));
            Assert.Equal("read index/0123abcdef at webdav:http://u@nas.test/repo/: the server redirects (HTTP 301) to https://nas.test/repo/index/0123abcdef: use that URL", e.Message);
        }
        Assert.All(_requests, r => Assert.Equal("Basic", r.Headers.Authorization?.Scheme ?? "Basic"));
    }

    [Fact]
    public async Task AWrite_PutsATempObjectThenMovesItWithoutOverwriting()
    {
        await using WebDavStore store = Open(r => r.Method.Method switch
        {
            "MKCOL" => Status(HttpStatusCode.Created),
            "PUT" => Status(HttpStatusCode.Created),
            "MOVE" => Status(HttpStatusCode.Created),
            _ => Status(HttpStatusCode.BadRequest),
        });
        ObjectName pack = new(ObjectKind.Data, "abcdef0123");
        using var content = new MemoryStream([1, 2, 3]);
        await store.WriteAsync(pack, content, default);

        Assert.Equal(new[] { "MKCOL /repo/tmp/", "PUT", "MKCOL /repo/data/ab/", "MOVE" }, _requests.Select(r => r.Method.Method is "PUT" or "MOVE" ? r.Method.Method : $"{r.Method} {r.RequestUri!.AbsolutePath}"));
        HttpRequestMessage put = _requests[1], move = _requests[3];
        Assert.StartsWith("/repo/tmp/", put.RequestUri!.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal("*", put.Headers.IfNoneMatch.Single().Tag);
        Assert.Equal(put.RequestUri, move.RequestUri);
        Assert.Equal("http://nas.test/repo/data/ab/abcdef0123", move.Headers.GetValues("Destination").Single());
        Assert.Equal("F", move.Headers.GetValues("Overwrite").Single());
    }

    /// <summary>Answers every request with a function; nothing goes on the network.</summary>
    private sealed class Canned(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            HttpResponseMessage response = await answer(request, cancellationToken);
            response.RequestMessage = request;
            return response;
        }
    }
}
